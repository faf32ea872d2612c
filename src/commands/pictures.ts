// --perfetto FILE and --html FILE of run and report: the renderers' documents
// written where asked. Kept apart so the commands call it in one line.
import { writeFileSync } from 'node:fs';
import { toHtml } from '../output/html.js';
import { toPerfetto } from '../output/perfetto.js';
import type { PictureData } from '../output/picture-data.js';

export interface PictureOutputs {
  perfetto?: string;
  html?: string;
}

export function writePictures(out: PictureOutputs, data: PictureData): void {
  if (out.perfetto) writeFileSync(out.perfetto, toPerfetto(data));
  if (out.html) writeFileSync(out.html, toHtml(data));
}
