/**
 * CIFAR-10 from the official binary version (cifar-10-batches-bin): each record is one
 * label byte followed by 3072 pixel bytes in CHW order (1024 red, 1024 green, 1024 blue).
 * Pixels are transposed to HWC here so every dataset shares one layout.
 */

import { join } from "node:path";
import { readRequiredFile } from "./files.ts";
import type { ImageDataset, Split } from "./image-dataset.ts";

const SIDE = 32;
const CHANNELS = 3;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = PLANE * CHANNELS;
const RECORD_BYTES = 1 + IMAGE_BYTES;
const NUM_CLASSES = 10;

export const CIFAR10_FILES: Readonly<Record<Split, readonly string[]>> = {
  train: ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
  test: ["test_batch.bin"],
};

/** The usual CIFAR-10 train-split statistics (true std, not the often-copied 0.2023/0.1994/0.2010). */
const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465] as const;
const CIFAR10_STD = [0.247, 0.2435, 0.2616] as const;

interface Decoded {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Reads batch files in order until `limit` images are in hand (the caller trims the excess). */
export async function loadCifar10(
  split: Split,
  root: string,
  limit: number = Number.POSITIVE_INFINITY,
): Promise<ImageDataset> {
  const parts: Decoded[] = [];
  let count = 0;
  for (const file of CIFAR10_FILES[split]) {
    if (count >= limit) break;
    const path = join(root, file);
    const part = decodeCifarBatch(await readRequiredFile(path, "CIFAR-10 batch file"), path);
    parts.push(part);
    count += part.labels.length;
  }
  return {
    name: "cifar10",
    split,
    images: concat(parts.map((part) => part.images)),
    labels: concat(parts.map((part) => part.labels)),
    count,
    height: SIDE,
    width: SIDE,
    channels: CHANNELS,
    numClasses: NUM_CLASSES,
    mean: CIFAR10_MEAN,
    std: CIFAR10_STD,
  };
}

export function decodeCifarBatch(file: Uint8Array, path: string): Decoded {
  if (file.length === 0 || file.length % RECORD_BYTES !== 0) {
    throw new Error(`CIFAR-10 batch file size ${file.length} is not a multiple of ${RECORD_BYTES}: ${path}`);
  }
  const count = file.length / RECORD_BYTES;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const record = n * RECORD_BYTES;
    const label = file[record] ?? 0;
    if (label >= NUM_CLASSES) throw new Error(`CIFAR-10 label ${label} out of range in record ${n}: ${path}`);
    labels[n] = label;
    const out = n * IMAGE_BYTES;
    for (let c = 0; c < CHANNELS; c++) {
      const plane = record + 1 + c * PLANE;
      for (let p = 0; p < PLANE; p++) images[out + p * CHANNELS + c] = file[plane + p] ?? 0;
    }
  }
  return { images, labels };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
