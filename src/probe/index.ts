/** Network tooling: `probe()` (native connect probes) and `completions()` (results as they finish). */
export { completions } from './completions';
export type { Completions, CompletionsOptions, CompletionResult, CompletionFulfilled, CompletionRejected, Task, TaskContext } from './completions';
export { probe } from './probe';
export type { ProbeRun, ProbeResult, ProbeAnswer, ProbeFailure, ProbeState, ProbeError, ProbeErrorCode } from './probe';
export type { ProbeOptions, ProbeTarget, ProbeTargetObject } from './options';
export type { ProbeSummary, ProbeRttSummary } from './summary';
