pluginManagement { repositories { google(); mavenCentral(); gradlePluginPortal() } }
rootProject.name = "bedside"
