#!/usr/bin/env node
// The longhorn-local tool: dispatches to the compiled CLIs (built by the README's set-up).
// `cluster ...` belongs to the test harness (a real control plane); everything else to the data plane.
const argv = process.argv.slice(2);
const entry = argv[0] === 'cluster' ? '../test/dist/cli/cluster-command.js' : '../dataplane/dist/cli/main.js';

import(new URL(entry, import.meta.url).href)
  .then(({ main }) => main(argv))
  .then(
    (code) => process.exit(code),
    (err) => {
      console.error(`longhorn-local: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
