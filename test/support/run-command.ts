// Runs a command class from src/commands in a child process (through tsx, no build), as bin/run.js would.
import {type ChildProcess, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export function spawnCommand(command: string, args: string[]): ChildProcess {
  const program =
    `const {handle} = await import('@oclif/core'); const {default: Command} = await import('./src/commands/${command}.ts');` +
    ` await Command.run(${JSON.stringify(args)}, import.meta.url).catch(handle)`
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {cwd: REPO_ROOT})
}

/** The command's exit code and everything it wrote; `stdin`: sent, then the input ends (else it stays open, unwritten). */
export function runCommand(command: string, args: string[], options: {stdin?: string} = {}): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawnCommand(command, args)
  if (options.stdin !== undefined) child.stdin!.end(options.stdin)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
}
