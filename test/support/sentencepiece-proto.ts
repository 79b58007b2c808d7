// Writes a SentencePiece tokenizer.model (protobuf ModelProto) for tests: pieces, scores and types, BPE or another model type.
export interface ProtoPiece {
  piece: string
  score: number
  /** 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  type: number
}

function varint(value: number): number[] {
  const bytes: number[] = []
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80)
    value = Math.floor(value / 0x80)
  }
  bytes.push(value)
  return bytes
}

const key = (field: number, wire: number) => varint(field * 8 + wire)
const lengthDelimited = (field: number, body: number[]) => [...key(field, 2), ...varint(body.length), ...body]

export function sentencePieceProto(pieces: ProtoPiece[], options: {modelType?: number; byteFallback?: boolean; addDummyPrefix?: boolean} = {}): Uint8Array {
  const out: number[] = []
  for (const {piece, score, type} of pieces) {
    const scoreBytes = new Uint8Array(4)
    new DataView(scoreBytes.buffer).setFloat32(0, score, true)
    out.push(...lengthDelimited(1, [...lengthDelimited(1, [...new TextEncoder().encode(piece)]), ...key(2, 5), ...scoreBytes, ...key(3, 0), ...varint(type)]))
  }
  out.push(...lengthDelimited(2, [...key(3, 0), ...varint(options.modelType ?? 2), ...key(35, 0), ...varint(options.byteFallback === false ? 0 : 1)]))
  out.push(...lengthDelimited(3, [...lengthDelimited(1, [...new TextEncoder().encode('identity')]), ...key(3, 0), ...varint(options.addDummyPrefix === false ? 0 : 1)]))
  return Uint8Array.from(out)
}
