/**
 * The native engine as the facade sees it: `loader` loads the binding, `contract` reads the
 * engine's codes and event kinds from it, `checks` its validators, and one wrapper per engine
 * (`pool-engine`, `resource-engine`, `probe-engine`) hides the hot path's argument block.
 */
export * from './checks';
export * from './contract';
export * from './pool-engine';
export * from './probe-engine';
export * from './resource-engine';
