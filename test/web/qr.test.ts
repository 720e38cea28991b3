// The invitation QR codes (src/web/qr.ts): the terminal rendering, read back module by module
// from its half-block characters, decodes (jsQR) to the link; the SVG has an intrinsic size.
// The SVG as the browser draws it is decoded in test/browser/web-client.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import jsQRModule from 'jsqr';
import { qrSvg, qrText } from '../../src/web/qr.js';

const jsQR = jsQRModule as unknown as typeof jsQRModule.default;
/** As long as a real invitation link (spec/client.md §3: about 430 characters). */
const LINK = `sealpost:invite/${'AbCdEfGh_-0123456789'.repeat(21)}xyz`;

/** Half-block text back to light (true) and dark modules: the glyph is the light part. */
function modules(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.split('\n').filter((l) => l.length > 0)) {
    const top: boolean[] = [], bottom: boolean[] = [];
    for (const ch of line) {
      top.push(ch === '█' || ch === '▀');
      bottom.push(ch === '█' || ch === '▄');
    }
    rows.push(top, bottom);
  }
  return rows;
}

function rgba(rows: boolean[][], scale: number): { data: Uint8ClampedArray; width: number; height: number } {
  const width = rows[0]!.length * scale, height = rows.length * scale;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = rows[Math.floor(y / scale)]![Math.floor(x / scale)] ? 255 : 0;
      data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

test('the terminal QR code decodes to the link, and fits a terminal', () => {
  const text = qrText(LINK);
  const rows = modules(text);
  const img = rgba(rows, 4);
  assert.is(jsQR(img.data, img.width, img.height)?.data, LINK);
  const columns = rows[0]!.length;
  assert.ok(columns <= 100, `${columns} columns`);
  assert.ok(text.split('\n').filter(Boolean).length <= 50, 'half as many lines as module rows');
});

test('the SVG QR code has an intrinsic size (an <img> of it is drawn at 4 px a module)', () => {
  const svg = qrSvg(LINK);
  const m = /^<svg [^>]*width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  assert.ok(m, svg.slice(0, 120));
  assert.is(m![1], m![3]);
  assert.is(Number(m![1]) % 4, 0);
});

test.run();
