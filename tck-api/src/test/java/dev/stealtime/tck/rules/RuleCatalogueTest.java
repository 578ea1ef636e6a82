package dev.stealtime.tck.rules;

import dev.stealtime.tck.spi.Architecture;
import org.testng.annotations.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class RuleCatalogueTest {

    private final RuleCatalogue catalogue = RuleCatalogue.get();

    @Test
    public void holdsEveryRuleOfBothInterfacesWithStableIds() {
        assertThat(catalogue.suite("x86")).hasSize(34).allMatch(r -> r.architecture() == Architecture.X86_64);
        assertThat(catalogue.suite("arm64")).hasSize(40).allMatch(r -> r.architecture() == Architecture.ARM64);
        assertThat(catalogue.rule("X86-TORN-READ").level()).isEqualTo(Level.REQUIRED);
        assertThat(catalogue.rule("ARM-ERROR-PRECEDENCE").level()).isEqualTo(Level.LINUX_ABI);
        assertThat(catalogue.rule("X86-PAD-UNTOUCHED").level()).isEqualTo(Level.ADVISORY);
        assertThat(catalogue.all()).allSatisfy(r -> {
            assertThat(r.statement()).isNotBlank();
            assertThat(r.area()).isNotBlank();
            assertThat(r.source()).isNotBlank();
        });
    }

    @Test
    public void unknownIdsAreReported() {
        assertThat(catalogue.unknownIds(annotated("X86-ENABLE", "X86-NOPE"))).containsExactly("X86-NOPE");
        assertThatThrownBy(() -> catalogue.rule("NOPE")).hasMessageContaining("NOPE");
    }

    @Test
    public void levelsAreGroupsAndOnlyRequiredAndLinuxAbiGate() {
        assertThat(Level.fromGroup("linux-abi")).isEqualTo(Level.LINUX_ABI);
        assertThat(Level.REQUIRED.gating()).isTrue();
        assertThat(Level.LINUX_ABI.gating()).isTrue();
        assertThat(Level.ADVISORY.gating()).isFalse();
        assertThatThrownBy(() -> Level.fromGroup("optional")).hasMessageContaining("unknown profile 'optional'");
    }

    private static TckRule annotated(String... ids) {
        return new TckRule() {
            @Override
            public String[] value() {
                return ids;
            }

            @Override
            public Class<? extends java.lang.annotation.Annotation> annotationType() {
                return TckRule.class;
            }
        };
    }
}
