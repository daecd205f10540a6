#!/usr/bin/env node
// The `compress` command: the compiled CLI does everything (see src/cli/main.ts).
import '../dist/src/cli/main.js';
