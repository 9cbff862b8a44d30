/**
 * Data-holding resources (check.ts DATA_RESOURCE_TYPES) whose replacement or removal on an update is intended: the
 * transition check accepts these and flags every other. One line per resource: the stack, the logical ID in the
 * deployed template, and why (what the release note tells users to do first). Keep an entry while any kept baseline
 * (src/transition/releases.ts) still has the old resource.
 */
import { IntendedReplacement } from './check';

export const INTENDED_REPLACEMENTS: readonly IntendedReplacement[] = [
  {
    stack: 'SageMakerNotebookInstanceStack',
    resource: 'NotebookInstance0476B99B',
    reason: 'notebook-al2-v3 → notebook-al2023-v1 (PlatformIdentifier is create-only): the instance is replaced under its new '
      + 'name mlflow-lab-al2023-v1; deploy refuses until --replace-notebook and prints the aws s3 sync that saves the notebooks first',
  },
];
