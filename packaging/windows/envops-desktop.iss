; Inno Setup script for EnvOps Desktop (build on Windows after `python packaging\build.py`).
; Start-menu shortcut, association of .envops.zip configuration files, and an uninstaller.

#define AppName "EnvOps Desktop"
#define AppVersion "0.1.0"
#define BundleDir "..\..\dist\EnvOps Desktop"

[Setup]
AppId={{5B0E5C0E-4C2A-4E59-9D0B-6F1F7E0E2A11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=EnvOps
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
OutputDir=..\..\dist
OutputBaseFilename=EnvOpsDesktop-{#AppVersion}-setup
SetupIconFile=..\..\resources\app-icons\envops.ico
UninstallDisplayIcon={app}\envops-desktop.exe
Compression=lzma2/max
SolidCompression=yes
ChangesAssociations=yes
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\envops-desktop.exe"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Registry]
; Double-clicking a configuration file opens the Import dialog with it.
Root: HKA; Subkey: "Software\Classes\.envops.zip"; ValueType: string; ValueName: ""; ValueData: "EnvOps.Configuration"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\EnvOps.Configuration"; ValueType: string; ValueName: ""; ValueData: "EnvOps configuration file"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\EnvOps.Configuration\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\envops-desktop.exe,0"
Root: HKA; Subkey: "Software\Classes\EnvOps.Configuration\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\envops-desktop.exe"" ""%1"""

[Run]
Filename: "{app}\envops-desktop.exe"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
