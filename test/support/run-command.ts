// Runs a pagedllm command in a child process. With PAGEDLLM_TEST_BUILT=1 (.ci/run sets it; run-tests.js checks the
// build is current) the child is `node bin/run.js COMMAND ...` on dist/, as a user runs it: a start costs ~0.4 CPU s
// instead of ~1.2 through tsx, over a hundred starts a run. Without it the child runs the command class from
// src/commands through tsx, so a test run after an edit to src/ never silently tests an older build.
import {type ChildProcess, spawn, type StdioOptions} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUN_BUILT = process.env.PAGEDLLM_TEST_BUILT === '1'

/** `command`: its path under src/commands without extension ('generate', 'models/rm', 'bench/index'); `stdio` as spawn takes it (default: all three piped). */
export function spawnCommand(command: string, args: string[], options: {stdio?: StdioOptions} = {}): ChildProcess {
  return spawn(process.execPath, nodeArgs(command, args), {cwd: REPO_ROOT, stdio: options.stdio})
}

/**
 * The command behind a shell pipe, `sh -c 'cat | COMMAND'`: its stdin is a FIFO, as a user's `producer | pagedllm`
 * gives it, fed by what is written to the returned process's stdin.
 */
export function spawnCommandBehindPipe(command: string, args: string[]): ChildProcess {
  return spawn('sh', ['-c', 'cat | exec "$@"', 'sh', process.execPath, ...nodeArgs(command, args)], {cwd: REPO_ROOT})
}

/** node's arguments that run the command (run in REPO_ROOT). */
function nodeArgs(command: string, args: string[]): string[] {
  if (RUN_BUILT) {
    // The words a user types: 'models/rm' is `models rm`, 'bench/index' is `bench`.
    const words = command.split('/').filter((word, index, all) => !(word === 'index' && index === all.length - 1))
    return ['bin/run.js', ...words, ...args]
  }
  const program =
    `const {handle} = await import('@oclif/core'); const {default: Command} = await import('./src/commands/${command}.ts');` +
    ` await Command.run(${JSON.stringify(args)}, import.meta.url).catch(handle)`
  return ['--import', 'tsx', '--input-type=module', '-e', program]
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

