// The same sources as processing/pom.xml (which builds and tests them on a plain JVM with Maven).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    compileOnly("org.json:json:20240303")        // Android has org.json in the platform
    testImplementation("org.json:json:20240303")
    testImplementation("org.junit.jupiter:junit-jupiter:5.10.2")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher:1.10.2")
}

tasks.test {
    useJUnitPlatform()
    systemProperty("testvectors.dir", file("../testvectors").absolutePath)
}
