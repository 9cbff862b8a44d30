/**
 * Data-holding resources (check.ts DATA_RESOURCE_TYPES) whose replacement or removal on an update is intended: the
 * transition check accepts these and flags every other. One line per resource: the stack, the logical ID in the
 * deployed template, and why (what the release note tells users to do first). Keep an entry while any kept baseline
 * (src/transition/releases.ts) still has the old resource.
 */
import { IntendedReplacement } from './check';

export const INTENDED_REPLACEMENTS: readonly IntendedReplacement[] = [
];
