package io.procwatch.truth;

/**
 * Whether the goals procwatch does not meet yet are asserted too ({@code -Dtruth.allGoals=true}).
 * Every case always measures and prints its TRUTH line and always asserts what procwatch does
 * today, so a regression fails the build; the goals still out of reach (argv of every exec before
 * the BPF exec capture, the first answer after a loss within 100 ms) are asserted only when asked,
 * so the build stays green until they are met. docs/fidelity.md lists which ones these are.
 */
final class Goals {
    static final boolean ALL = Boolean.getBoolean("truth.allGoals");

    private Goals() {
    }
}
