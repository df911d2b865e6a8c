// Whether Pools made in this process connect through Node (the Node-dialled path of issue 19):
// always on Windows, elsewhere with the internal switch BERTH_INTERNAL_NODE_DIAL=1. Tests that
// observe what only the engine's own descriptors allow (a peek with no event-loop turn, a
// descriptor handed over) read it to say so, or to skip with the reason.
export const NODE_DIAL = process.platform === 'win32' || process.env.BERTH_INTERNAL_NODE_DIAL === '1';
