// Invitation links as QR codes (spec/client.md §13): block characters for the terminal chat,
// SVG for the web client, both from one encoder (uqr). Byte mode, error correction L: an
// invitation link is a few hundred characters, and L keeps the code small enough for a phone
// to scan from a terminal.
import { renderSVG, renderUnicodeCompact } from 'uqr';

/** The link as half-block characters, two module rows per text line, with a quiet zone. */
export function qrText(link: string): string {
  return renderUnicodeCompact(link, { ecc: 'L', border: 2 });
}

/**
 * The link as a standalone SVG document (black modules on white, quiet zone included), four
 * pixels a module. Its width and height are set, so that an <img> of it has that intrinsic
 * size (uqr writes only a viewBox, and an image without a size is drawn at the browser's default).
 */
export function qrSvg(link: string): string {
  const svg = renderSVG(link, { ecc: 'L', border: 4, pixelSize: 4, whiteColor: '#fff', blackColor: '#000' });
  return svg.replace(/viewBox="0 0 (\d+) (\d+)"/, 'width="$1" height="$2" viewBox="0 0 $1 $2"');
}
