// A small typed event emitter (works in browsers too). A throwing handler does not stop the
// others or the client; its error is re-thrown on a fresh microtask so that it is not lost.
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly handlers = new Map<keyof Events, Set<(arg: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (arg: Events[K]) => void): this {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (arg: never) => void);
    return this;
  }

  off<K extends keyof Events>(event: K, handler: (arg: Events[K]) => void): this {
    this.handlers.get(event)?.delete(handler as (arg: never) => void);
    return this;
  }

  once<K extends keyof Events>(event: K, handler: (arg: Events[K]) => void): this {
    const wrapped = (arg: Events[K]): void => { this.off(event, wrapped); handler(arg); };
    return this.on(event, wrapped);
  }

  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) {
      try {
        (h as (a: Events[K]) => void)(arg);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }
}
