// The limits on one chat template render (time, text written, value sizes, range lengths): a model's template, or a request's, cannot hang or exhaust a process.

/** The longest a render may run; real templates take milliseconds, so only a runaway loop gets near it. */
export const TEMPLATE_DEADLINE_MS = 5_000
/** The most characters one template string may hold: '*', '+' and '~' cannot grow a string without end. */
export const MAX_TEMPLATE_STRING = 10_000_000
/** The most characters a render's blocks may write in all (loops included): far beyond any context's prompt. */
export const MAX_TEMPLATE_WRITTEN = 64_000_000
/**
 * The most template nodes one evaluation may sit inside (a macro call is a few levels; jinja2 itself stops a macro
 * that recursed about 150 times with RecursionError). Past it a macro that calls itself without end would exhaust
 * the JS stack, which @huggingface/jinja reports as "Cannot call something that is not a function"; the heaviest
 * macro bodies measured overflow Node's default stack near 1,400 levels, so this stays well below.
 */
export const MAX_TEMPLATE_DEPTH = 800
/** The most items one list may hold; no real template counts this far. */
export const MAX_TEMPLATE_LIST = 1_000_000

/** One render's use of the limits; a limit passed throws, and the chat template makes that a 400 naming it. */
export class RenderBudget {
  private readonly deadline = Date.now() + TEMPLATE_DEADLINE_MS
  private written = 0
  private evaluations = 0
  private depth = 0

  /** Called on every node evaluated; the clock is read every 1,024 of them. */
  tick(): void {
    if ((++this.evaluations & 1023) === 0 && Date.now() > this.deadline)
      throw new Error(`the chat template ran for more than ${TEMPLATE_DEADLINE_MS / 1000} s (a loop that does not end?)`)
  }

  /** Around each node's evaluation: nesting past MAX_TEMPLATE_DEPTH (recursion without end) is refused. */
  enter(): void {
    if (this.depth >= MAX_TEMPLATE_DEPTH)
      throw new Error(`the chat template nests more than ${MAX_TEMPLATE_DEPTH} levels deep: recursion too deep (a macro that calls itself without end?)`)
    this.depth++
  }

  leave(): void {
    this.depth--
  }

  /** A value just computed: a string past MAX_TEMPLATE_STRING characters or a list past MAX_TEMPLATE_LIST items is refused. */
  checkSize(size: number, what: 'string' | 'list'): void {
    const limit = what === 'string' ? MAX_TEMPLATE_STRING : MAX_TEMPLATE_LIST
    if (size > limit) throw new Error(`the chat template built a ${what} of ${size} ${what === 'string' ? 'characters' : 'items'}, more than ${limit}`)
  }

  /** Text a block wrote. */
  write(characters: number): void {
    this.written += characters
    if (this.written > MAX_TEMPLATE_WRITTEN) throw new Error(`the chat template wrote more than ${MAX_TEMPLATE_WRITTEN} characters`)
  }
}

/** jinja2's sandbox refuses a range() of more items (safe_range's MAX_RANGE: OverflowError). */
export const SANDBOX_MAX_RANGE = 100_000
