#!/usr/bin/env node
// Runs the bundled server (`npm run build`, run by `npm install` in a clone and before `npm pack`).
await import('../dist/cli/llm-chat-server.js');
