package dev.stealtime.tck.rules;

import org.testng.annotations.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The generated constants are the catalogue, one for one, in its order. */
public class RuleIdsTest {

    @Test
    public void oneConstantPerCatalogueRuleNamedAfterIt() throws IllegalAccessException {
        List<Field> fields = Arrays.stream(RuleIds.class.getDeclaredFields())
                .filter(f -> Modifier.isStatic(f.getModifiers()) && f.getType() == String.class).toList();
        List<String> ids = RuleCatalogue.get().all().stream().map(Rule::id).toList();
        assertThat(fields).hasSameSizeAs(ids);
        for (Field f : fields) {
            String id = (String) f.get(null);
            assertThat(ids).as("RuleIds.%s", f.getName()).contains(id);
            assertThat(f.getName()).isEqualTo(id.replace('-', '_'));
        }
    }
}
