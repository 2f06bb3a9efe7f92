// The language-runtime globals the record codec uses. Every JavaScript runtime tandemfs runs in
// (browsers, workers, Node) has them; declaring just these keeps DOM and Node types out of the
// core's type-check, so the core cannot come to depend on a browser or Node API by accident.
// (The root tsconfig excludes this file: lib.dom declares the same names there.)

interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}

declare class TextEncoder {
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
