package io.chainroute;

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
    forbid(
        new String[] {
          "io.chainroute.config..",
          "io.chainroute.chain..",
          "io.chainroute.height..",
          "io.chainroute.routing..",
          "io.chainroute.jsonrpc..",
          "io.chainroute.pipeline.."
        },
        "io.chainroute.contract..");
  }

  @Test
  void theEnvoyContractIsPlainValuesThatEveryEdgeCanRead() {
    forbid(
        new String[] {"io.chainroute.contract.."},
        "io.chainroute.config..",
        "io.chainroute.chain..",
        "io.chainroute.pipeline..");
  }

  /** The protocol packages: only the adapter registry (and the composition root) sees them. */
  private static final String[] PROTOCOLS = {
    "io.chainroute.chain.evm..", "io.chainroute.chain.algod.."
  };

  /**
   * Protocol knowledge stays in the adapters: every package but the registry and the protocol
   * packages themselves reaches a protocol through {@code ChainAdapter} only. Listed by exclusion,
   * so a new package is inside the rule without being named here.
   */
  @Test
  void onlyTheRegistryKnowsTheProtocolPackages() {
    noClasses()
        .that()
        .resideOutsideOfPackages(
            "io.chainroute.adapters..",
            "io.chainroute.chain.evm..",
            "io.chainroute.chain.algod..",
            // The algod simulator is leaving the product jar for the test fixtures (issue 17
            // item 6, branch sim-fixture); until then it borrows AlgodAdapter's error texts.
            "io.chainroute.sim..")
        // Main and Sidecar (package io.chainroute) get adapters from the registry too.
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(PROTOCOLS)
        .check(CLASSES);
  }

  /** One protocol does not lean on another's adapter. */
  @Test
  void protocolPackagesDoNotDependOnEachOther() {
    noneDependsOnAnother(PROTOCOLS);
  }

  /**
   * Adapters are the core's: no wire, no edge, no engine state (they are handed what they need).
   */
  @Test
  void adaptersUseTheSeamNotTheEngine() {
    forbid(
        PROTOCOLS,
        "io.chainroute.height..",
        "io.chainroute.pipeline..",
        "io.chainroute.probe..",
        "io.chainroute.routing..",
        "io.chainroute.contract..",
        "io.chainroute.adapters..");
  }

  @Test
  void edgesDoNotDependOnEachOther() {
    noneDependsOnAnother(
        "io.chainroute.extproc..",
        "io.chainroute.xds..",
        "io.chainroute.admin..",
        "io.chainroute.envoy..");
  }

  /**
   * Classes in {@code packages} import neither the wire nor the edges nor {@code alsoForbidden}.
   */
  private static void forbid(String[] packages, String... alsoForbidden) {
    noClasses()
        .that()
        .resideInAnyPackage(packages)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(WIRE_AND_EDGES)
        .orShould()
        .dependOnClassesThat()
        .resideInAnyPackage(alsoForbidden)
        .check(CLASSES);
  }

  private static void noneDependsOnAnother(String... packages) {
    for (String p : packages) {
      String[] others =
          java.util.Arrays.stream(packages).filter(o -> !o.equals(p)).toArray(String[]::new);
      noClasses()
          .that()
          .resideInAPackage(p)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(others)
          .check(CLASSES);
    }
  }
}
