// Public surface of the libbpf layer (the only code that talks to libbpf).
// Typical use: BpfObject.open -> setRodata/setAutoload (after hasTracepoint)
// -> load -> attachAll -> ringBuffer().drain from a timer -> close.
export { BpfObject, BpfMap, kallsymsLookupSupported, numPossibleCpus, openHandleCount, openHandles, type ProgramInfo } from './object.js';
export { vmlinuxBtf, closeVmlinuxBtf, hasTracepoint, requireTracepoint, structLayoutFromObject, VmlinuxBtf, type StructLayout } from './btf.js';
export {
  RingBufferReader,
  RingParser,
  RingBufferCorruptError,
  RINGBUF_BUSY_BIT,
  RINGBUF_DISCARD_BIT,
  RINGBUF_HDR_SIZE,
  type RecordCallback,
  type RawRecordCallback,
  pendingRingPlaceholders,
} from './ringbuf.js';
export {
  LibbpfError,
  PermissionError,
  VerifierError,
  NotSupportedError,
  describeErrno,
  usefulVerifierLines,
  PRIVILEGE_HINT,
} from './errors.js';
export { libbpfLogMark, libbpfLogSince, onLibbpfLog, setLibbpfDebugCapture, uninstallLibbpfPrint, type LibbpfLogMessage } from './ffi.js';
