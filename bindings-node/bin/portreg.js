#!/usr/bin/env node
'use strict'
// The `portreg` command: the same CLI as the Rust binary (it is the same
// code), so output and exit codes are identical.
const { runCli } = require('../native.js')

process.exitCode = runCli(['portreg', ...process.argv.slice(2)])
