plugins {
    id("com.android.application")
}

// build.sh reads minSdk, targetSdk, versionCode and versionName from this file: keep them one per line.
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
    packaging {
        jniLibs {
            useLegacyPackaging = false   // .so files stored uncompressed, page-aligned, loaded in place
        }
    }
    testOptions {
        unitTests {
            isIncludeAndroidResources = true   // Robolectric (src/test) sees the app's resources and assets
        }
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

// Only what Maven Central has, so that android_demo/build.sh builds the same app without Google's repository
// (versions kept equal to tools/pom.xml and app/pom.xml; tests/test_android_apk.py checks).
dependencies {
    implementation(project(":processing"))
    // TensorFlow Lite's Interpreter with XNNPACK and the GPU delegate. For LiteRT instead (Google's Maven), use
    // com.google.ai.edge.litert:litert, litert-gpu and litert-gpu-api 1.4.2: the same org.tensorflow.lite classes.
    implementation("org.tensorflow:tensorflow-lite:2.16.1")
    implementation("org.tensorflow:tensorflow-lite-gpu:2.16.1")
    implementation("org.tensorflow:tensorflow-lite-gpu-api:2.14.0")   // the newest on Maven Central
    testImplementation("junit:junit:4.13.2")
    testImplementation("org.robolectric:robolectric:4.16.1")
}
