package io.procwatch.cli;

import io.procwatch.protocol.Groups;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/fields.md lists every field of the registry (cli/Fields) with its header, width, alignment,
 * JSON key and source, generated from the registry itself: adding a field without its line (or
 * leaving a line for a field that is gone) fails here, and the message holds the table to paste.
 */
class FieldsDocTest {
    static String table() {
        List<String> lines = new ArrayList<>();
        lines.add("| keyword | header | width | align | JSON key | from |");
        lines.add("|---|---|---:|---|---|---|");
        for (Map.Entry<String, Field> e : Fields.all().entrySet()) {
            Field f = e.getValue();
            String from = Groups.describe(f.groups());
            if (!f.items().isEmpty()) {
                from = "/proc items " + String.join(", ", f.items());
            }
            lines.add("| `" + e.getKey() + "` | " + (f.header().isEmpty() ? "" : "`" + f.header() + "`") + " | " + f.width()
                    + " | " + (f.left() ? "left" : "right") + " | `" + f.json() + "` | " + from + " |");
        }
        return String.join("\n", lines) + "\n";
    }

    @Test
    void theFieldsPageListsEveryFieldOfTheRegistry() throws Exception {
        String doc = Files.readString(Path.of("docs/fields.md"));
        String begin = "<!-- fields table: generated from cli/Fields by FieldsDocTest -->\n";
        String end = "<!-- end of fields table -->";
        assertThat(doc).contains(begin).contains(end);
        String inDoc = doc.substring(doc.indexOf(begin) + begin.length(), doc.indexOf(end));
        if (!inDoc.equals(table())) {
            Files.writeString(Path.of("target/fields-table.md"), table()); // to paste into docs/fields.md
        }
        assertThat(inDoc).as("docs/fields.md is out of date; the table should read:%n%s", table()).isEqualTo(table());
    }
}
