/**
 * The `trunklab` command. Each subcommand lives in its own module; this file
 * only dispatches and turns usage errors into exit code 2.
 */
import { UsageError } from './args.ts';

const USAGE = `usage: trunklab <command> [options]

commands:
  lint FILE...                     conformance-check raw SIP messages (one JSON line each)
  uas --listen HOST:PORT [--transport udp|tcp|tls] [--answer CODE] [--ring-ms N] [--early-media] [--max-calls N]
                                   an answering UAS for quick tests (--max-calls: exit after N calls)
  options HOST:PORT [--transport udp|tcp|tls] [--count N] [--interval-ms N]
                                   OPTIONS keep-alives like a Mediation Server's, with round-trip times
  serve [--topology FILE] [--no-ui] [--host H] [--port N] [--open FILE]... [--external PEER=HOST:PORT[/udp|tcp|tls]]...
        [--free-ports] [--t1-ms N]
                                   start the emulated Lync topology and its UI (default 127.0.0.1:8080, prints {"ui": URL});
                                   one JSON line per element, then {"ready": true}
  call [--topology FILE] [--from USER_OR_NUMBER] [--to NUMBER_OR_USER] [--inbound] [--talk-ms N] [--json]
       [--external PEER=HOST:PORT[/transport]]... [--free-ports]
                                   place one call through the topology, print the outcome and the flow (exit 0: completed)
  view FILE... [--host H] [--port N]
                                   open captures straight into the UI in a browser (prints {"ui": URL})
  convert IN OUT [--to pcap|pcapng|cls|json|sipp] [--side ELEMENT] [--call N|CALL-ID]
                                   convert a capture, Lync log or trace; a SIPp scenario for one side of a call
  suite [--topology FILE] [--target [PEER=]HOST:PORT[/transport]] [--external PEER=HOST:PORT[/transport]]... [--cases PATTERN]
        [--junit OUT.xml] [--report OUT.html] [--pcap DIR] [--originate-wait S] [--originate-cmd CMD] [--time-scale F] [--free-ports] [--list]
                                   the qualification suite: one line per case (verdict, time, messages, why), then
                                   "N passed, N failed" (exit 0: none failed, 1: a case failed, 2: usage)
    --target HOST:PORT[/transport] the device under test, in place of the topology's first gateway (lab.json: gw-a, Gateway-A,
                                   the basic, hold, DTMF, early media cases' peer); PEER=HOST:PORT replaces another peer;
                                   without --cases only the cases that involve it run
    --originate-wait S             a case whose call starts at the device asks for it (a line on stderr) and waits S seconds
                                   (default 30; 0: skip those cases)
    --originate-cmd CMD            and runs CMD (sh -c) with TRUNKLAB_ACTION, _DIAL, _FROM, _TARGET... in its environment
  run SCENARIO.json... [--topology FILE] [--target ...] [--external ...] [--originate-wait S] [--originate-cmd CMD]
      [--junit OUT.xml] [--report OUT.html] [--pcap DIR]
                                   run scenario files, each step with its verdict (exit 0: all pass, 1: a failure, 2: invalid file)
  diff A B [--all]                 two call flows (pcap, pcapng, Lync log, JSON) message by message (exit 0: same)
  replay TRACE --side ELEMENT --target HOST:PORT[/transport] [--peer ELEMENT] [--call N|CALL-ID] [--local HOST:PORT]
         [--speed F | --as-fast] [--timeout-ms N] [--strict-provisionals] [--pcap OUT] [--recorded OUT] [--diff]
                                   re-run one side of a recorded call against a target, one JSON line per step (exit 0: completed)
  help                             this text
`;

type Command = (argv: string[], out: (line: string) => void) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  lint: async () => (await import('./lint.ts')).lintCommand,
  uas: async () => (await import('./uas.ts')).uasCommand,
  options: async () => (await import('./options.ts')).optionsCommand,
  convert: async () => (await import('./convert.ts')).convertCommand,
  view: async () => (await import('./view.ts')).viewCommand,
  serve: async () => (await import('./serve.ts')).serveCommand,
  call: async () => (await import('./call.ts')).callCommand,
  suite: async () => (await import('./suite.ts')).suiteCommand,
  run: async () => (await import('./run.ts')).runCommand,
  diff: async () => (await import('./diff.ts')).diffCommand,
  replay: async () => (await import('./replay.ts')).replayCommand,
};

// A closed pipe (`trunklab lint ... | head`) ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`trunklab: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    return 2;
  }
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  try {
    return await (await load())(rest, out);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`trunklab ${name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`trunklab ${name}: ${(err as Error).stack ?? err}\n`);
    return 2;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
