#!/usr/bin/env node
// Runs the compiled JavaScript (`npm run build`, run by `npm install` in a clone and before `npm pack`).
await import('../dist/entry/node.js');
