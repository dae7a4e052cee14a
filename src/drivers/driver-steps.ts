import type { Logger } from 'pino';
import { message, renderStepMessage, type CodedMessage, type StepMessage } from '../platform/messages.js';
import type { ApplyResult, StepReporter } from './driver.js';

/**
 * The step machinery every driver shares: a step reports itself running, then done with a note, failed with a
 * reason, or still running with what it waits for (progressing); a failed step says whether retrying can help; and
 * the failures and waits of a whole apply become the contract's outcomes.
 */

/** A step that could not be done. */
export class StepFailure extends Error {
  /** The reason in English (the operator's log, a transient error's message). */
  readonly reason: string;
  /** The reason for the customer and as the step's note: coded when it is one of the catalogue's. */
  readonly note: StepMessage;

  constructor(
    readonly kind: 'transient' | 'permanent',
    reason: string | CodedMessage,
    /** For the operator. */
    readonly detail: string,
  ) {
    const text = renderStepMessage(reason);
    super(`${text} ${detail}`.trim());
    this.name = 'StepFailure';
    this.reason = text;
    this.note = reason;
  }
}

/** A step that is under way in the backend (an operator still works on it): look again in `retryAfterSeconds`. */
export class StepProgressing extends Error {
  constructor(
    /** What it waits for, as the running step's note (coded: the portal says it in the reader's language). */
    readonly note: StepMessage,
    readonly retryAfterSeconds: number,
  ) {
    super(renderStepMessage(note));
    this.name = 'StepProgressing';
  }
}

/** Anything a step throws that is not a StepFailure is taken as transient: the next attempt may go through. */
export function asStepFailure(error: unknown, step: string): StepFailure {
  return error instanceof StepFailure
    ? error
    : new StepFailure('transient', message('step.failedRetrying', { step }), (error as Error).message);
}

/** Runs one named step: reports it running, then done with a note, or failed with the reason. */
export function stepper(log: Logger, report: StepReporter) {
  return async <T>(name: string, work: () => Promise<{ value: T; note: StepMessage }>): Promise<T> => {
    await report(name, 'running');
    try {
      const { value, note } = await work();
      await report(name, 'done', note);
      log.info({ step: name, note: renderStepMessage(note) }, 'step done');
      return value;
    } catch (error) {
      if (error instanceof StepProgressing) {
        // Stays running, with what it waits for: the next pass reports it again.
        await report(name, 'running', error.note);
        throw error;
      }
      const failure = asStepFailure(error, name);
      await report(name, 'failed', failure.note);
      log.warn({ step: name, kind: failure.kind, detail: failure.detail }, 'step failed');
      throw failure;
    }
  };
}

/** Maps step failures to the contract's outcomes. */
export async function outcomeOf<T>(
  work: () => Promise<T>,
): Promise<T | Exclude<ApplyResult, { outcome: 'ready' }>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepProgressing)
      return { outcome: 'progressing', message: error.message, retryAfterSeconds: error.retryAfterSeconds };
    if (error instanceof StepFailure)
      return error.kind === 'permanent'
        ? { outcome: 'permanent-error', reason: error.note, detail: error.detail }
        : { outcome: 'transient-error', message: `${error.reason} ${error.detail}`.trim().slice(0, 4000) };
    return { outcome: 'transient-error', message: (error as Error).message };
  }
}
