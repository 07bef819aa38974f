plugins {
    id("com.android.application")
}

android {
    namespace = "dev.mobiledeploy.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.mobiledeploy.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    androidResources {
        noCompress += "tflite"   // models are memory-mapped straight from the APK
    }
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
}

// Artifacts exported by `mobiledeploy export` (../../models/<name>/) become assets/models/<name>/:
// manifest.json, labels.txt and the TFLite files. Runs before every build.
val copyArtifacts by tasks.registering(Copy::class) {
    description = "Copies mobiledeploy artifacts from models/ into the app's assets"
    from(rootProject.file("../models")) {
        include("*/manifest.json", "*/labels.txt", "*/*.tflite")
    }
    into(layout.projectDirectory.dir("src/main/assets/models"))
}
tasks.named("preBuild") { dependsOn(copyArtifacts) }

dependencies {
    implementation(project(":processing"))
    implementation("androidx.appcompat:appcompat:1.7.0")
    val camerax = "1.4.1"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
    // LiteRT 1.4.x: the Interpreter API with XNNPACK and the GPU delegate (2.x's Interpreter is CPU-only)
    val litert = "1.4.2"
    implementation("com.google.ai.edge.litert:litert:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu:$litert")
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litert")
}
