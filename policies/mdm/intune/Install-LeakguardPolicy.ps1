<#
.SYNOPSIS
  Intune (Win32 app install command, or a platform script run as SYSTEM): installs the signed
  Leakguard policy and pins the organisation's public key.
.EXAMPLE
  powershell -ExecutionPolicy Bypass -File Install-LeakguardPolicy.ps1 -PolicyUrl https://it.example.com/leakguard/policy.json -PublicKey "lg-ed25519-pub:..."
#>
param(
  [Parameter(Mandatory)] [string] $PolicyUrl,
  [Parameter(Mandatory)] [string] $PublicKey,
  [string] $Sha256 = ""
)
$ErrorActionPreference = "Stop"
$dir = Join-Path $env:ProgramData "Leakguard"
$tmp = New-Item -ItemType Directory -Path (Join-Path $env:TEMP ([guid]::NewGuid()))
try {
  Invoke-WebRequest -UseBasicParsing -Uri $PolicyUrl -OutFile "$tmp\policy.json"
  Invoke-WebRequest -UseBasicParsing -Uri "$PolicyUrl.sig" -OutFile "$tmp\policy.json.sig"
  if ($Sha256 -and ((Get-FileHash "$tmp\policy.json" -Algorithm SHA256).Hash -ne $Sha256.ToUpper())) {
    throw "policy.json does not have the expected SHA-256"
  }
  Set-Content -Path "$tmp\policy.pub" -Value $PublicKey -NoNewline
  & "$env:ProgramFiles\Leakguard\leakguard.exe" policy check --public-key "$tmp\policy.pub" "$tmp\policy.json"
  if ($LASTEXITCODE -ne 0) { throw "the policy does not load or is not signed with the pinned key" }
  New-Item -ItemType Directory -Force -Path $dir | Out-Null
  # Only SYSTEM and Administrators may change the policy; users may read it.
  icacls $dir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" "Users:(OI)(CI)R" | Out-Null
  Copy-Item "$tmp\policy.pub" "$dir\policy.pub" -Force
  Copy-Item "$tmp\policy.json.sig" "$dir\policy.json.sig" -Force
  Copy-Item "$tmp\policy.json" "$dir\policy.json" -Force
  Write-Output "Leakguard policy installed in $dir"
} finally {
  Remove-Item -Recurse -Force $tmp
}
