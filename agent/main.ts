/**
 * Entry point of `dist/agent.js`: the `chase-agent` CLI. With no subcommand, or when started by the
 * extension (vscode-languageclient passes --node-ipc / --stdio / --clientProcessId), it serves.
 */
import { commands } from './cli/commands';
import { UsageError } from './cli/command';
import { userMessage } from './log';
import { agentVersion } from './version';


function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `chase-agent ${agentVersion} — carbon-aware GPU power control`,
    '',
    'Usage: chase-agent <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options: --help, --version. `chase-agent <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${agentVersion}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  const serverFlag = first === undefined || first.startsWith('--node-ipc') || first.startsWith('--stdio') || first.startsWith('--clientProcessId');
  const name = serverFlag ? 'serve' : first;
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`chase-agent: unknown command "${first}"\n\n${helpText()}\n`);
    return 2;
  }
  const args = serverFlag ? argv : rest;
  // only Chase's own options: after `--` come the job's (`run -- python train.py -h` runs the job)
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`chase-agent ${command.name}: ${e.message}\n\n${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`chase-agent ${command.name}: ${userMessage(e, `chase-agent ${command.name}`)}\n`);
    return 1;
  }
}

if (require.main === module) {
  // A command that returned is done: its cleanup (limits restored, sockets closed) has run. Exiting
  // now means a handle it forgot (a timer, a socket) can never keep the process hanging after its
  // error was printed. `serve` never returns.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`chase-agent: ${userMessage(e, 'chase-agent')}\n`);
      process.exit(1);
    },
  );
}
