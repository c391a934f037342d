package io.procwatch.truth;

/** The one line per case the CI log shows: {@code TRUTH <case>: <matched> of <N>}. */
final class Report {
    private Report() {
    }

    static void line(String name, long matched, long of, String detail) {
        System.out.println("TRUTH " + name + ": " + matched + " of " + of + (detail.isEmpty() ? "" : " (" + detail + ")"));
        System.out.flush();
    }
}
