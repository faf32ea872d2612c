// BPF ring buffer consumer over our own mmap of the map fd (layout in
// ring-parser.ts): RingBufferReader maps a real BPF_MAP_TYPE_RINGBUF and
// drives a RingParser; close() swaps the mapping for zero pages.
import { PROT_READ, PROT_WRITE, externalView, mmapFd, munmap, pageSize, replaceWithZeroPages, trackHandle, untrackHandle, type Ptr } from './ffi.js';
import { LibbpfError } from './errors.js';
import { RingParser, type RawRecordCallback, type RecordCallback } from './ring-parser.js';

export * from './ring-parser.js';

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map from its own mmap of the map fd. Call
 * drain() from a timer (programs submit with BPF_RB_NO_WAKEUP; never poll).
 * Owned by the BpfObject that created it; close() unmaps (idempotent).
 */
export class RingBufferReader {
  private parser: RingParser | null;
  private maps: { addr: Ptr; length: number; handle: number }[];
  private views: ArrayBuffer[];

  private constructor(parser: RingParser, maps: { addr: Ptr; length: number; handle: number }[], views: ArrayBuffer[], readonly name: string) {
    this.parser = parser;
    this.maps = maps;
    this.views = views;
  }

  /** Map a ring buffer map fd of `size` data bytes. */
  static open(mapFd: number, size: number, name: string): RingBufferReader {
    const page = pageSize();
    const maps: { addr: Ptr; length: number; handle: number }[] = [];
    const unmapAll = (): void => {
      for (const m of maps.splice(0)) {
        munmap(m.addr, m.length);
        untrackHandle(m.handle);
      }
    };
    const map = (length: number, prot: number, offset: number, what: string): Ptr => {
      const r = mmapFd(length, prot, mapFd, offset);
      if (typeof r === 'number') {
        unmapAll();
        throw new LibbpfError(`mmap(ring buffer ${name} ${what})`, -r, { hint: 'the map must be a BPF_MAP_TYPE_RINGBUF that was created (object loaded)' });
      }
      maps.push({ addr: r, length, handle: trackHandle('mmap', `${name} ${what}`) });
      return r;
    };
    const consAddr = map(page, PROT_READ | PROT_WRITE, 0, 'consumer page');
    const prodLen = page + 2 * size;
    const prodAddr = map(prodLen, PROT_READ, page, 'producer page + data');
    const consView = externalView(consAddr, page);
    const prodView = externalView(prodAddr, prodLen);
    const parser = new RingParser(new BigUint64Array(consView, 0, 1), new BigUint64Array(prodView, 0, 1), prodView, page, size);
    return new RingBufferReader(parser, maps, [consView, prodView], name);
  }

  /** See RingParser.drain and RecordCallback: decode each record before returning. */
  drain(onRecord: RecordCallback, max?: number): number {
    if (this.parser === null) throw new Error(`ring buffer ${this.name} used after close()`);
    return this.parser.drain(onRecord, max);
  }

  /** Zero-allocation drain (RawRecordCallback): the fast path for decoders. */
  drainRaw(onRecord: RawRecordCallback, max?: number): number {
    if (this.parser === null) throw new Error(`ring buffer ${this.name} used after close()`);
    return this.parser.drainRaw(onRecord, max);
  }

  /** Bytes waiting to be drained. */
  pending(): number {
    if (this.parser === null) return 0;
    return this.parser.pending();
  }

  get closed(): boolean {
    return this.parser === null;
  }

  close(): void {
    if (this.parser === null) return;
    // koffi views cannot be detached, and one that outlives its mapping
    // crashes the process when touched (a record view a caller kept, say).
    // So the ring mapping is swapped in place for zero pages: the kernel
    // mapping and its map reference go now, stale views read zeros, and the
    // zero pages are unmapped once the views are garbage-collected.
    this.parser.invalidate(); // a drain in progress (close from its callback) stops here
    this.parser = null;
    const views = this.views;
    this.views = [];
    this.maps.forEach((m, i) => {
      if (replaceWithZeroPages(m.addr, m.length) === 0) {
        zeroPagesPending++;
        zeroPageReaper.register(views[i], { addr: m.addr, length: m.length });
      } else {
        munmap(m.addr, m.length); // last resort; views must not be touched again
      }
      untrackHandle(m.handle);
    });
    this.maps = [];
  }
}

let zeroPagesPending = 0;
const zeroPageReaper = new FinalizationRegistry<{ addr: Ptr; length: number }>((m) => {
  munmap(m.addr, m.length);
  zeroPagesPending--;
});

/** Zero-page placeholders of closed ring buffers still waiting for their views to be collected. */
export function pendingRingPlaceholders(): number {
  return zeroPagesPending;
}
