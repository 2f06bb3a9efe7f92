// CRC32C: known answers, and agreement with hash-wasm's independent implementation.
import { expect } from 'chai';
import { createCRC32 } from 'hash-wasm';
import { Crc32c, crc32c } from '../../../src/record/crc32c.js';
import { noise } from '../noise.js';

const ascii = (text: string) => new TextEncoder().encode(text);
const bytes = (length: number, at: (i: number) => number) => Uint8Array.from({ length }, (_, i) => at(i));

async function reference() {
  const hasher = await createCRC32(0x82f63b78);
  return (data: Uint8Array) => {
    hasher.init();
    hasher.update(data);
    return parseInt(hasher.digest('hex'), 16);
  };
}

describe('crc32c', () => {
  describe('known answers', () => {
    it('CRC32C("123456789") is 0xE3069283, the Castagnoli check value', () => {
      expect(crc32c(ascii('123456789'))).to.equal(0xe3069283);
    });

    it('of no bytes is 0', () => {
      expect(crc32c(new Uint8Array(0))).to.equal(0);
    });

    // RFC 3720 (iSCSI), appendix B.4: CRC examples.
    it('32 bytes of zeros give 0x8A9136AA', () => {
      expect(crc32c(new Uint8Array(32))).to.equal(0x8a9136aa);
    });
    it('32 bytes of 0xFF give 0x62A8AB43', () => {
      expect(crc32c(new Uint8Array(32).fill(0xff))).to.equal(0x62a8ab43);
    });
    it('32 incrementing bytes 0x00..0x1F give 0x46DD794E', () => {
      expect(crc32c(bytes(32, (i) => i))).to.equal(0x46dd794e);
    });
    it('32 decrementing bytes 0x1F..0x00 give 0x113FDB5C', () => {
      expect(crc32c(bytes(32, (i) => 31 - i))).to.equal(0x113fdb5c);
    });
    it('the 48-byte iSCSI read command PDU gives 0xD9963A56', () => {
      const pdu = new Uint8Array(48);
      pdu.set([0x01, 0xc0], 0);
      pdu[16] = 0x14;
      pdu[22] = 0x04;
      pdu[27] = 0x14;
      pdu[31] = 0x18;
      pdu[32] = 0x28;
      pdu[40] = 0x02;
      expect(crc32c(pdu)).to.equal(0xd9963a56);
    });
  });

  describe('agrees with hash-wasm', () => {
    it('for every length from 0 to 4096', async () => {
      const expected = await reference();
      const data = noise(4096, 7);
      for (let length = 0; length <= 4096; length++) {
        const slice = data.subarray(0, length);
        if (crc32c(slice) !== expected(slice)) expect.fail(`length ${length}: ${crc32c(slice)} != ${expected(slice)}`);
      }
    });

    it('for large buffers that span many scratch chunks, aligned or not', async () => {
      const expected = await reference();
      const data = noise(3 * 1024 * 1024 + 13, 99);
      for (const [start, length] of [[0, 1 << 20], [1, (1 << 20) + 7], [3, data.length - 3], [5, 262144 * 2 + 1]] as const) {
        const view = data.subarray(start, start + length);
        expect(crc32c(view), `start ${start}, length ${length}`).to.equal(expected(view));
      }
    });

    it('for views of other typed arrays and plain ArrayBuffers', async () => {
      const expected = await reference();
      const data = noise(4099, 3);
      const words = new Uint32Array(data.buffer, 0, 1024);
      expect(crc32c(words)).to.equal(expected(data.subarray(0, 4096)));
      expect(crc32c(data.buffer)).to.equal(expected(data));
    });
  });

  describe('streaming', () => {
    it('continuing a CRC equals the CRC of the whole, for every split of a buffer', () => {
      const data = noise(600, 11);
      const whole = crc32c(data);
      for (let split = 0; split <= data.length; split++) {
        expect(crc32c(data.subarray(split), crc32c(data.subarray(0, split)))).to.equal(whole);
      }
    });

    it('update() in uneven chunks, across scratch boundaries, equals the one-shot CRC', async () => {
      const expected = await reference();
      const data = noise(700_001, 5);
      const stream = new Crc32c();
      let at = 0;
      for (const size of [1, 15, 16, 17, 4095, 262_144, 262_145, 100_000]) {
        stream.update(data.subarray(at, at + size));
        at += size;
      }
      stream.update(data.subarray(at));
      expect(stream.digest()).to.equal(expected(data));
    });
  });
});
