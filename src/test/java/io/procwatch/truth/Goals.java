package io.procwatch.truth;

/**
 * Whether the goals procwatch does not meet yet are asserted too ({@code -Dtruth.allGoals=true}).
 * Every case always measures and prints its TRUTH line and always asserts what procwatch does
 * today, so a regression fails the build; the one goal still out of reach on a loaded machine (the
 * first answer after a loss within 100 ms of SIGCONT) is asserted only when asked. The argv goals
 * (met since the BPF exec capture) are asserted always. docs/fidelity.md says which is which.
 */
final class Goals {
    static final boolean ALL = Boolean.getBoolean("truth.allGoals");

    private Goals() {
    }
}
