// The record page of the demo: frame a record, show its bytes by field, damage one, decode it again.
import { decodeRecord, encodeRecord, RecordError, type Op } from '../src/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const REGIONS: Array<[number, number, string, string]> = [
  [0, 4, 'magic', 'magic "TDJR"'],
  [4, 5, 'version', 'version'],
  [5, 6, 'op', 'op'],
  [6, 8, 'flags', 'flags'],
  [8, 12, 'lengths', 'frame length'],
  [12, 16, 'ids', 'volume'],
  [16, 24, 'ids', 'LSN'],
  [24, 28, 'ids', 'epoch'],
  [28, 32, 'lengths', 'path / target length'],
  [32, 40, 'ids', 'offset'],
  [40, 44, 'lengths', 'payload length'],
  [44, 48, 'ids', 'reserved'],
  [48, 56, 'ids', 'op id'],
  [56, 72, 'times', 'atime, mtime'],
];

function opFromForm(): Op {
  const type = $<HTMLSelectElement>('op').value as Op['type'];
  const path = $<HTMLInputElement>('path').value;
  const text = $<HTMLInputElement>('text').value;
  const now = Date.now();
  switch (type) {
    case 'write': return { type, path, offset: 0, data: new TextEncoder().encode(text), mtimeMs: now };
    case 'truncate': return { type, path, size: text.length, mtimeMs: now };
    case 'create': return { type, path, exclusive: true, truncate: false, mtimeMs: now };
    case 'rename': return { type, path, target: text || '/renamed' };
    case 'setTimes': return { type, path, atimeMs: now, mtimeMs: now };
    case 'symlink': return { type, path, target: text || '/target' };
    case 'chmod': return { type, path, mode: Number.parseInt(text, 8) & 0o7777 || 0o644 };
    default: return { type, path };
  }
}

function classOf(index: number, length: number): [string, string] {
  if (index >= length - 4) return ['crc', 'CRC32C'];
  const region = REGIONS.find(([from, to]) => index >= from && index < to);
  return region ? [region[2], region[3]] : ['body', 'path, target, payload'];
}

function show(frame: Uint8Array): void {
  const container = $('frame');
  container.replaceChildren();
  frame.forEach((byte, index) => {
    const span = document.createElement('span');
    const [css, title] = classOf(index, frame.length);
    span.className = css;
    span.title = `byte ${index}: ${title}`;
    span.textContent = byte.toString(16).padStart(2, '0');
    span.onclick = () => {
      const damaged = frame.slice();
      damaged[index] = damaged[index]! ^ 0x01;
      show(damaged);
    };
    container.append(span, index % 24 === 23 ? document.createElement('br') : ' ');
  });
  const verdict = $('verdict');
  try {
    const record = decodeRecord(frame);
    verdict.className = 'good';
    verdict.textContent = `decodes and verifies: ${record.op.type} ${record.op.path} (LSN ${record.lsn}, ${frame.length} bytes)`;
  } catch (error) {
    verdict.className = 'bad';
    verdict.textContent = error instanceof RecordError ? `refused: ${error.code} — ${error.message}` : String(error);
  }
}

function render(): void {
  try {
    show(encodeRecord({ volume: 1, epoch: 1, lsn: Number($<HTMLInputElement>('lsn').value), opId: 1, op: opFromForm() }));
  } catch (error) {
    $('frame').replaceChildren();
    $('verdict').className = 'bad';
    $('verdict').textContent = error instanceof RecordError ? `cannot encode: ${error.code} — ${error.message}` : String(error);
  }
}

$('legend').innerHTML = [['magic', 'magic'], ['op', 'version, op, flags'], ['lengths', 'lengths'], ['ids', 'volume, LSN, epoch, offset, op id'], ['times', 'times'], ['body', 'path, target, payload'], ['crc', 'CRC32C']]
  .map(([css, label]) => `<span class="${css}">${label}</span>`).join('');
$('fields').addEventListener('input', render);
render();
