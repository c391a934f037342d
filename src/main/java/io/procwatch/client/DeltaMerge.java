package io.procwatch.client;

import java.util.ArrayList;
import java.util.List;

/**
 * Merges a delta snapshot (rows that changed or are new, pids that are gone) into the previous
 * listing. All three come in pid order, so the merge is one walk over them.
 */
final class DeltaMerge {
    private DeltaMerge() {
    }

    /** The merged listing in pid order, or null when the changes are not in pid order. */
    static List<ProcRow> merge(List<ProcRow> base, List<ProcRow> changed, List<Integer> gone) {
        if (!inPidOrder(changed) || !ascending(gone)) {
            return null;
        }
        List<ProcRow> out = new ArrayList<>(base.size() + changed.size());
        int i = 0;
        int j = 0;
        int k = 0;
        while (i < base.size() || j < changed.size()) {
            int bp = i < base.size() ? base.get(i).pid : Integer.MAX_VALUE;
            int cp = j < changed.size() ? changed.get(j).pid : Integer.MAX_VALUE;
            if (cp <= bp) {
                out.add(changed.get(j++)); // a new row, or a changed one that replaces its old self
                if (cp == bp) {
                    i++;
                }
                continue;
            }
            while (k < gone.size() && gone.get(k) < bp) {
                k++;
            }
            if (k == gone.size() || gone.get(k) != bp) {
                out.add(base.get(i)); // unchanged
            }
            i++;
        }
        return out;
    }

    static boolean inPidOrder(List<ProcRow> rows) {
        for (int i = 1; i < rows.size(); i++) {
            if (rows.get(i - 1).pid >= rows.get(i).pid) {
                return false;
            }
        }
        return true;
    }

    private static boolean ascending(List<Integer> pids) {
        for (int i = 1; i < pids.size(); i++) {
            if (pids.get(i - 1) >= pids.get(i)) {
                return false;
            }
        }
        return true;
    }
}
