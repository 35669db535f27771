#!/usr/bin/env node
// The longhorn-local tool: runs the compiled CLI (built by `npm run build` / the README's set-up).
import { main } from '../dataplane/dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`longhorn-local: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
