package io.procwatch.connector;

/**
 * A helper JVM for tests that must subscribe under other credentials or namespaces: prints
 * "SUBSCRIBED" / "taskstats: OK" or "ERROR: message" and exits 0 or 1.
 */
public final class SubscribeProbe {
    private SubscribeProbe() {
    }

    public static void main(String[] args) {
        try (ProcConnector c = ProcConnector.open(ProcConnector.Options.defaults())) {
            System.out.println("SUBSCRIBED");
        } catch (Exception e) {
            System.out.println("ERROR: " + e.getMessage());
            System.exit(1);
        }
        try (var t = io.procwatch.taskstats.TaskstatsExitListener.open(1 << 20, 100)) {
            System.out.println("taskstats: OK");
        } catch (Exception e) {
            System.out.println("taskstats: ERROR: " + e.getMessage());
            System.exit(1);
        }
    }
}
