// safehold completion: prints the completion script for bash, zsh or fish,
// generated from the command table it is given (main.ts COMMANDS).

import { SafeholdError } from '../../core/errors.ts';
import { SHELLS, completionScript } from '../completion-scripts.ts';
import type { Shell } from '../completion-scripts.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

/** The completion command over the commands `all()` returns (the table it belongs to). */
export function completionCommand(all: () => Promise<readonly Command[]>): Command {
  return {
    name: 'completion',
    summary: 'print the shell completion script (bash, zsh or fish)',
    usage: `safehold completion bash|zsh|fish

bash:  source <(safehold completion bash)      (e.g. in ~/.bashrc)
zsh:   source <(safehold completion zsh)       (after compinit), or save as _safehold in $fpath
fish:  safehold completion fish > ~/.config/fish/completions/safehold.fish

With --json: {"shell", "script"}.`,
    options: {},
    async run(ctx) {
      const shell = ctx.positionals[0];
      if (ctx.positionals.length !== 1 || !(SHELLS as readonly string[]).includes(shell!))
        throw new SafeholdError('USAGE', `give one shell: ${SHELLS.join(', ')}`);
      const script = completionScript(shell as Shell, await all());
      if (ctx.out.json) ctx.out.result({ shell, script }, () => {});
      else process.stdout.write(script);
      return EXIT.ok;
    },
  };
}
