# chainroute image: build the shaded jar with Maven, run it on a JRE.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
COPY .mvn .mvn
COPY proto proto
COPY src/main src/main
RUN mvn -B -q package -DskipTests

FROM eclipse-temurin:17-jre
COPY --from=build /src/target/chainroute.jar /opt/chainroute/lib/chainroute.jar
COPY bin/chainroute /opt/chainroute/bin/chainroute
COPY config /etc/chainroute
EXPOSE 18000 18001 8081 8082
ENTRYPOINT ["/opt/chainroute/bin/chainroute"]
CMD ["run", "--config", "/etc/chainroute/docker.yaml"]
