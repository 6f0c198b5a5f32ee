export { TcpEngine, type TcpStats } from './engine.js';
export { type TcpOptions, type TcpDeps, OUR_WINDOW_SCALE } from './state.js';
export { type TcpCounters } from './counters.js';
export { type TcpForwardFailure } from './inbound.js';
export { AcceptedPeer, Info, Ready, type ListenSpec, type TcpHandle, type TcpSocketLayer } from './sockets.js';
export { Ev, TIMEOUTS, stateName } from './conn.js';
export { PIPE_SIZE } from './splice.js';
