/** Every `chase-agent` subcommand, in the order `--help` lists them. Add new ones here. */
import type { CliCommand } from './command';
import { carbonCommand } from './carbon';
import { serveCommand } from './serve';
import { simulateCommand } from './simulate';
import { gpusCommand } from './gpus';
import { forecastBenchCommand } from './forecastBench';
import { runsCommand } from './runs';
import { runCommand } from './run';
import { restoreCommand } from './restore';

export const commands: CliCommand[] = [serveCommand, runCommand, carbonCommand, gpusCommand, simulateCommand, forecastBenchCommand, runsCommand, restoreCommand];
