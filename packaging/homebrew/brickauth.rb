# Homebrew formula for brickauth (a template). At release time `cargo xtask release-check --archives DIR
# --out DIR` fills in the version, the repository and each archive's SHA-256 and checks the result
# (`ruby -c` where Ruby is installed). Homebrew installs formulae only from a tap: the rendered file
# goes to the tap repository (`homebrew-tap`) as Formula/brickauth.rb (docs/architecture.md).
class Brickauth < Formula
  desc "Entra ID tokens for Azure Databricks, cached and refreshed silently"
  homepage "{{repository}}"
  version "{{version}}"
  license any_of: ["MIT", "Apache-2.0"]

  on_macos do
    on_arm do
      url "{{repository}}/releases/download/v{{version}}/brickauth-{{version}}-aarch64-apple-darwin.tar.gz"
      sha256 "{{sha256 aarch64-apple-darwin}}"
    end
    on_intel do
      url "{{repository}}/releases/download/v{{version}}/brickauth-{{version}}-x86_64-apple-darwin.tar.gz"
      sha256 "{{sha256 x86_64-apple-darwin}}"
    end
  end

  on_linux do
    on_arm do
      url "{{repository}}/releases/download/v{{version}}/brickauth-{{version}}-aarch64-unknown-linux-gnu.tar.gz"
      sha256 "{{sha256 aarch64-unknown-linux-gnu}}"
    end
    on_intel do
      url "{{repository}}/releases/download/v{{version}}/brickauth-{{version}}-x86_64-unknown-linux-gnu.tar.gz"
      sha256 "{{sha256 x86_64-unknown-linux-gnu}}"
    end
  end

  def install
    bin.install "brickauth"
    generate_completions_from_executable(bin/"brickauth", "completions")
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/brickauth --version")
    assert_match "password", shell_output("#{bin}/brickauth flows")
  end
end
