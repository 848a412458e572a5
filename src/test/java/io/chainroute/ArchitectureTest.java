package io.chainroute;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The house rules of STYLE.md, kept executable: a pure core, edges that do not know each other. */
class ArchitectureTest {
  private static final JavaClasses CLASSES =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("io.chainroute");

  /** The simulated algod, a test fixture (src/test/java): its rule reads the test classes too. */
  private static final String ALGOD_SIM = "io.chainroute.testing.algodsim..";

  /** The fixture's own unit tests (JUnit, AssertJ), left out of its rule. */
  private static final java.util.regex.Pattern FIXTURE_TESTS =
      java.util.regex.Pattern.compile(".*Test(\\$[^/]*)?\\.class");

  /** What neither the core nor the Envoy contract may import: gRPC, protobuf, Envoy, the edges. */
  private static final String[] WIRE_AND_EDGES = {
    "io.grpc..",
    "com.google.protobuf..",
    "io.envoyproxy..",
    "io.chainroute.extproc..",
    "io.chainroute.xds..",
    "io.chainroute.admin..",
    "io.chainroute.envoy.."
  };

  @Test
  void theCoreHasNoGrpcProtobufOrEnvoyImports() {
    noClasses()
        .that()
        .resideInAnyPackage(
            "io.chainroute.config..",
            "io.chainroute.chain..",
            "io.chainroute.height..",
            "io.chainroute.routing..",
            "io.chainroute.jsonrpc..",
            "io.chainroute.pipeline..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(WIRE_AND_EDGES)
        .orShould()
        .dependOnClassesThat()
        .resideInAPackage("io.chainroute.contract..")
        .check(CLASSES);
  }

  @Test
  void theEnvoyContractIsPlainValuesThatEveryEdgeCanRead() {
    noClasses()
        .that()
        .resideInAPackage("io.chainroute.contract..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(WIRE_AND_EDGES)
        .orShould()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.chainroute.config..", "io.chainroute.chain..", "io.chainroute.pipeline..")
        .check(CLASSES);
  }

  @Test
  void edgesDoNotDependOnEachOther() {
    String[] edges = {
      "io.chainroute.extproc..",
      "io.chainroute.xds..",
      "io.chainroute.admin..",
      "io.chainroute.envoy.."
    };
    for (String edge : edges) {
      String[] others =
          java.util.Arrays.stream(edges).filter(e -> !e.equals(edge)).toArray(String[]::new);
      noClasses()
          .that()
          .resideInAPackage(edge)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(others)
          .check(CLASSES);
    }
  }

  @Test
  void theSimulatedAlgodIsWrittenIndependentlyOfChainroutesAlgodAdapter() {
    JavaClasses fixture =
        new ClassFileImporter()
            .withImportOption(location -> !location.matches(FIXTURE_TESTS))
            .importPackages("io.chainroute.testing.algodsim");
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.chainroute.chain.algod..")
        .because(
            "the simulator is the oracle the algod-compatibility tests compare chainroute with")
        .check(fixture);
    // Self-contained, too: target/algod-sim.jar holds these classes, Jackson and msgpack only.
    classes()
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage(
            "java..",
            "com.sun.net.httpserver..",
            "com.fasterxml.jackson..",
            "org.msgpack..",
            ALGOD_SIM)
        .check(fixture);
  }

  @Test
  void noProductPackageDependsOnTestFixtures() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.chainroute.testing..")
        .check(CLASSES);
  }
}
