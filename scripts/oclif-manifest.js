#!/usr/bin/env node
// Writes oclif.manifest.json from the built commands (what `oclif manifest` does): with it, oclif imports only the
// command being run; without it, every start imports all commands and their dependencies (~0.6 s of each run).
import {rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Config} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const path = join(root, 'oclif.manifest.json')
// A manifest left from an earlier build would be read instead of the commands just built.
rmSync(path, {force: true})
const config = await Config.load(root)
// Each loaded command's cached form (flags, args, description) is what the manifest holds; its load() is dropped by JSON.
const commands = Object.fromEntries(config.commands.filter((command) => command.pluginName === config.pjson.name).map((command) => [command.id, command]))
if (Object.keys(commands).length === 0) throw new Error('oclif found no commands in dist/commands: build the TypeScript first')
writeFileSync(path, JSON.stringify({commands, version: config.version}, null, 2) + '\n')
