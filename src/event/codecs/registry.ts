import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../trackedEvent.js';
import type { Codec, CodecDefinition } from './codec.js';
import { jsonCodecDefinition } from './json.js';
import { lineCodecDefinition } from './line.js';

/** Every codec Beacon knows; a sink's `codec` config value names one of these. */
export const CODEC_DEFINITIONS: readonly CodecDefinition[] = [jsonCodecDefinition, lineCodecDefinition];

export function getCodec(name: string): Codec {
  const definition = CODEC_DEFINITIONS.find((d) => d.name === name);
  if (!definition) {
    const known = CODEC_DEFINITIONS.map((d) => d.name).join(', ');
    throw new BeaconError('BEACON_E_CONFIG_FIELD', `unknown codec "${name}"; expected one of ${known}`, {
      codec: name,
    });
  }
  return definition.create();
}

/** Encodes a batch as a stream: one payload per line, each line ending in a newline. */
export function encodeLines(codec: Codec, events: readonly TrackedEvent[]): Buffer {
  if (codec.encodeText) {
    // One string and one Buffer per batch: per-event Buffers and a concat cost more than the text.
    let text = '';
    for (const event of events) text += codec.encodeText(event) + '\n';
    return Buffer.from(text, 'utf8');
  }
  const parts: Buffer[] = [];
  for (const event of events) {
    parts.push(codec.encode(event), NEWLINE);
  }
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');
