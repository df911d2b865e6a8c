/** Connect probes (`ProbeEngine`, crates/berth-node/src/probe.rs). */
import type { ProbeEngine as ProbeEngineClass } from '../../../native/index';
import { binding } from './loader';

/**
 * A probe run, started by its constructor, whose first batch asks for input. Batches
 * (`ProbeBatch`) come in completion order: `indices[i]`, `states[i]` (PROBE_OPEN...) and
 * `rttUs[i]` describe one result; `errors` has one entry per PROBE_ERROR result; `want` is
 * credit on top of earlier credit; `done` marks the last batch (exactly once; every socket of
 * the run is closed by then).
 */
export const ProbeEngine = binding.ProbeEngine;
export type ProbeEngine = ProbeEngineClass;
export type { ProbeEngineConfig, ProbeBatch, ProbeError as ProbeEngineError } from '../../../native/index';

/** Probe states, as the engine numbers them. */
export const PROBE_OPEN: number = binding.PROBE_OPEN;
export const PROBE_CLOSED: number = binding.PROBE_CLOSED;
export const PROBE_FILTERED: number = binding.PROBE_FILTERED;
export const PROBE_ERROR: number = binding.PROBE_ERROR;
