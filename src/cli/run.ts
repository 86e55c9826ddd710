/**
 * `trunklab run SCENARIO.json... [--topology FILE] [--external ...]
 * [--junit OUT.xml] [--report OUT.html] [--pcap DIR] [--time-scale F]`: runs
 * scenario files (format: src/qualify/scenario.ts, examples in
 * fixtures/scenarios/) and prints every step with its verdict. Exit 0 when
 * all pass, 1 when one fails, 2 when a file is not a valid scenario (each
 * problem named by its JSON path).
 */
import { readFileSync } from 'node:fs';
import { stepLine } from '../qualify/report-junit.ts';
import { parseScenario, type Scenario, ScenarioError } from '../qualify/scenario.ts';
import { caseLine } from '../qualify/suite.ts';
import { parseArgs, UsageError } from './args.ts';
import { QUALIFY_OPTION_SPEC, runAndReport } from './suite.ts';

export function loadScenario(file: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the scenario ${file}: ${(error as Error).message}`);
  }
  try {
    return parseScenario(json, file);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
}

export async function runCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals, options } = parseArgs(argv, QUALIFY_OPTION_SPEC);
  if (positionals.length === 0) throw new UsageError('run needs a scenario file');
  const scenarios = positionals.map(loadScenario);
  return runAndReport(scenarios, options, out, (r) => {
    out(caseLine(r));
    for (const s of r.steps) out(stepLine(s));
  });
}
