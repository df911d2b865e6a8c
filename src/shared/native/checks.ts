/** Validators the engine runs for the facade, so that it and the engine agree on what parses. */
import { binding } from './loader';

/** Throws when an `addressPolicy` entry is neither a CIDR nor a class name (the message names it). */
export const checkAddressPolicy: (policy: Readonly<{ allow?: readonly string[]; deny?: readonly string[] }>) => void =
  binding.checkAddressPolicy as (policy: Readonly<{ allow?: readonly string[]; deny?: readonly string[] }>) => void;
/** Throws when `host` is not a listen address (an IP; IPv6 with an optional zone such as `%eth0`). */
export const checkListenHost: (host: string) => void = binding.checkListenHost;
